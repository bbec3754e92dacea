// The frame every page shares: head, navigation, flash notice, footer; and small view helpers.
import { html, type SafeHTML } from './html.ts';

/** A message shown at the top of a page: from a flash value, a form error or a query code. */
export interface Notice {
  tone: 'success' | 'error' | 'info';
  text: string;
}

/** What the frame of a page needs. */
export interface Frame {
  title: string;
  /** The signed-in user's email; guests get the "log in / sign up" navigation. */
  email?: string | undefined;
  /** The CSRF token for the "log out" button (signed-in pages only). */
  csrf?: string | undefined;
  notice?: Notice | undefined;
  /** Where the sessions are, shown in the footer. */
  storeLabel: string;
}

/** The hidden field that carries the CSRF token of a form. */
export function csrfField(csrf: string): SafeHTML {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

/** A time as "3 minutes ago", with the exact time in its tooltip. */
export function timeAgo(ms: number, now: number): SafeHTML {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  const [count, unit] =
    seconds < 60
      ? [0, '']
      : seconds < 3600
        ? [Math.floor(seconds / 60), 'minute']
        : seconds < 86_400
          ? [Math.floor(seconds / 3600), 'hour']
          : [Math.floor(seconds / 86_400), 'day'];
  const text = count === 0 ? 'just now' : `${count} ${unit}${count === 1 ? '' : 's'} ago`;
  const exact = new Date(ms).toISOString();
  return html`<time datetime="${exact}" title="${exact.replace('T', ' ').slice(0, 19)} UTC">${text}</time>`;
}

function navigation(frame: Frame): SafeHTML {
  if (frame.email === undefined) {
    return html`<nav><a href="/login">Log in</a><a href="/signup" class="button">Sign up</a></nav>`;
  }
  return html`<nav>
    <a href="/">Home</a><a href="/sessions">Your sessions</a><a href="/password">Password</a>
    <form method="post" action="/logout">${csrfField(frame.csrf ?? '')}<button class="link">Log out</button></form>
  </nav>`;
}

/** A whole page: the frame around `body`. */
export function layout(frame: Frame, body: SafeHTML): string {
  const notice = frame.notice;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · pithos</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.svg">
</head>
<body>
<header class="bar">
  <a class="brand" href="/"><img src="/favicon.svg" alt="" width="28" height="28">pithos</a>
  ${navigation(frame)}
</header>
<main>
  ${notice && html`<p class="notice ${notice.tone}" role="status">${notice.text}</p>`}
  ${body}
</main>
<footer>
  ${frame.email && html`Signed in as <strong>${frame.email}</strong> · `}Sessions kept in ${frame.storeLabel}
</footer>
</body>
</html>
`.text;
}
