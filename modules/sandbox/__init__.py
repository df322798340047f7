"""Local fakes of every outside service WaddleBot talks to (Twitch OAuth, Helix, EventSub, chat,
YouTube, oEmbed, the WaddleBot APIs) and a scenario player that drives them. Framework-free: the
`waddlebot sandbox` command and the test suite use the same fakes."""
