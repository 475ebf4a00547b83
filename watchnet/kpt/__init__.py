"""Keep / Problem / Try board, action items, the printable report and the newsletter draft."""
