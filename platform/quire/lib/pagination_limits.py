"""The most items a page of any REST list holds: below every app, so the platform's pagination and the apps'
limits (notebooks.limits.MAX_PAGE_SIZE) name one number."""

PAGE_LIMIT = 200
