/** The bar across every page: the product name, who is signed in, and a sign-out button. */
import { csrfToken } from '../lib/cookies';
import { h } from '../lib/dom';

export function TopBar(username: string): HTMLElement {
  return h(
    'header',
    { className: 'top-bar' },
    h('a', { className: 'brand', text: 'Quire', attrs: { href: '/' } }),
    username ? SignOutForm(username) : SignInLink(),
  );
}

function SignInLink(): HTMLElement {
  const next = encodeURIComponent(location.pathname);
  return h('a', { className: 'sign-in', text: 'Sign in', attrs: { href: `/accounts/login/?next=${next}` } });
}

function SignOutForm(username: string): HTMLElement {
  const token = h('input', { attrs: { type: 'hidden', name: 'csrfmiddlewaretoken', value: csrfToken() } });
  const form = h(
    'form',
    { className: 'sign-out', attrs: { method: 'post', action: '/accounts/logout/' } },
    h('a', { className: 'username', testId: 'username', text: username, attrs: { href: '/profile/', title: 'Profile, API tokens and quota' } }),
    token,
    h('button', { className: 'button', testId: 'sign-out', text: 'Sign out', attrs: { type: 'submit' } }),
  );
  // Read the cookie again on submit: Django rotates the token at sign-in, perhaps in another tab.
  form.addEventListener('submit', () => {
    token.value = csrfToken();
  });
  return form;
}
