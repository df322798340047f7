def test_login_page(client):
    page = client.get("/login")
    assert "Admin login" in page.text
