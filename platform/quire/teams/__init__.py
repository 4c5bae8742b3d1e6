"""Teams: groups of users with members and team admins."""
