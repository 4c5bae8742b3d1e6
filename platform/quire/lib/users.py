"""The two kinds of user the services take, defined once.

The project keeps Django's own user model (no `AUTH_USER_MODEL`), so a signed-in person is
`django.contrib.auth.models.User`; typing it as `AbstractBaseUser` hid its fields and relations from the type
checker. Whoever makes a request may also be signed out: services that check a role take a `Caller` and refuse
an anonymous one there.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

__all__ = ["Account", "Caller"]

Account = User
Caller = User | AnonymousUser
