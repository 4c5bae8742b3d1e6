/** Reads cookies, chiefly Django's CSRF token. */

export function readCookie(name: string, cookieString: string = document.cookie): string | null {
  for (const pair of cookieString.split(';')) {
    const [key, ...rest] = pair.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

export function csrfToken(): string {
  return readCookie('csrftoken') ?? '';
}
