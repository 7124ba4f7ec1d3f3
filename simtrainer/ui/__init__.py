"""The Textual app. It only renders the session's events; all domain work goes through simtrainer's packages."""
