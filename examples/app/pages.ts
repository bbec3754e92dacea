// The pages of the app, as HTML bodies to put in the layout. Everything shown is escaped by `html`.
import type { SessionInfo } from 'pithos/auth';
import { CATALOG, formatPrice, MAX_QUANTITY, productByID } from './catalog.ts';
import { html, type SafeHTML } from './html.ts';
import { csrfField, timeAgo } from './layout.ts';

/** The home page: the visit counter and the cart, both kept in the session. */
export function homePage(options: {
  csrf: string;
  visits: number;
  cart: Record<string, number>;
}): SafeHTML {
  const { csrf, visits, cart } = options;
  const lines = Object.entries(cart).flatMap(([id, quantity]) => {
    const product = productByID(id);
    return product === undefined ? [] : [{ product, quantity }];
  });
  const total = lines.reduce((sum, line) => sum + line.product.price * line.quantity, 0);
  const cartRows = lines.map(
    ({ product, quantity }) => html`<tr>
      <td>${product.name}</td><td class="number" data-quantity="${product.id}">${quantity}</td>
      <td class="number">${formatPrice(product.price * quantity)}</td>
      <td class="action"><form method="post" action="/cart/remove">${csrfField(csrf)}
        <input type="hidden" name="product" value="${product.id}">
        <button class="secondary" aria-label="Remove one ${product.name}">Remove</button></form></td>
    </tr>`,
  );
  const shelf = CATALOG.map(
    (
      product,
    ) => html`<li><span>${product.name}</span><span class="price">${formatPrice(product.price)}</span>
      <form method="post" action="/cart/add">${csrfField(csrf)}
        <input type="hidden" name="product" value="${product.id}">
        <button aria-label="Add ${product.name}" ${(cart[product.id] ?? 0) >= MAX_QUANTITY && 'disabled'}>Add</button></form></li>`,
  );
  return html`<h1>Your jar</h1>
<div class="cards">
  <section class="card">
    <h2>Visits</h2>
    <p class="big" id="visits">${visits}</p>
    <p class="muted">times this session has opened this page. Reload to count one more.</p>
    <form method="post" action="/visits/reset">${csrfField(csrf)}<button class="secondary">Reset</button></form>
  </section>
  <section class="card">
    <h2>Shop</h2>
    <ul class="shelf">${shelf}</ul>
  </section>
</div>
<section class="card" id="cart">
  <h2>Cart</h2>
  ${
    lines.length === 0
      ? html`<p class="muted">Your cart is empty. Add something from the shop.</p>`
      : html`<table><thead><tr><th>Item</th><th class="number">Qty</th><th class="number">Price</th><th></th></tr></thead>
      <tbody>${cartRows}</tbody>
      <tfoot><tr><th>Total</th><th></th><th class="number" id="total">${formatPrice(total)}</th><th></th></tr></tfoot></table>`
  }
</section>`;
}

/** The login and sign-up forms: one shape, two purposes. */
export function credentialsPage(options: {
  csrf: string;
  mode: 'login' | 'signup';
  email?: string | undefined;
}): SafeHTML {
  const isLogin = options.mode === 'login';
  return html`<section class="card narrow">
  <h1>${isLogin ? 'Log in' : 'Create an account'}</h1>
  <form method="post" action="${isLogin ? '/login' : '/signup'}" class="stacked">${csrfField(options.csrf)}
    <label>Email <input type="email" name="email" value="${options.email ?? ''}" required autocomplete="username" autofocus></label>
    <label>Password <input type="password" name="password" required minlength="${isLogin ? 1 : 8}"
      autocomplete="${isLogin ? 'current-password' : 'new-password'}"></label>
    ${!isLogin && html`<p class="hint">At least 8 characters.</p>`}
    <button>${isLogin ? 'Log in' : 'Sign up'}</button>
  </form>
  <p class="muted">${
    isLogin
      ? html`New here? <a href="/signup">Create an account</a>.`
      : html`Have an account? <a href="/login">Log in</a>.`
  }</p>
</section>`;
}

function sessionRow(info: SessionInfo, csrf: string, now: number): SafeHTML {
  const action = info.current
    ? html`<span class="badge">This device</span>`
    : html`<form method="post" action="/sessions/revoke">${csrfField(csrf)}
        <input type="hidden" name="handle" value="${info.handle}">
        <button class="secondary">Sign out this one</button></form>`;
  return html`<tr class="${info.current ? 'current' : ''}">
    <td>${info.userAgent ?? 'Unknown browser'}</td>
    <td>${timeAgo(info.createdAt, now)}</td><td>${timeAgo(info.lastSeenAt, now)}</td>
    <td class="action">${action}</td></tr>`;
}

/** "Your sessions": the user's devices, or a note when the store cannot list them. */
export function sessionsPage(options: {
  csrf: string;
  sessions: SessionInfo[] | undefined;
  storeName: string;
  now: number;
}): SafeHTML {
  const { csrf, sessions, now } = options;
  const list =
    sessions === undefined
      ? html`<p class="muted">The ${options.storeName} store cannot list a user's sessions. "Sign out all
        other sessions" still works: it renews your checkvalue, and every other session ends at its next request.</p>`
      : html`<p class="muted">Every browser where you are signed in. "Last seen" is updated about once a minute.</p>
        <table id="sessions"><thead><tr><th>Browser</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead>
        <tbody>${sessions.map((info) => sessionRow(info, csrf, now))}</tbody></table>`;
  const others = sessions === undefined || sessions.some((info) => !info.current);
  return html`<h1>Your sessions</h1>
<section class="card">
  ${list}
  ${
    others &&
    html`<form method="post" action="/sessions/revoke-others" class="end">${csrfField(csrf)}
    <button class="danger">Sign out all other sessions</button></form>`
  }
</section>`;
}

/** The change-password form. */
export function passwordPage(options: { csrf: string }): SafeHTML {
  return html`<section class="card narrow">
  <h1>Change password</h1>
  <p class="muted">Your other sessions end when you change it; this one stays signed in.</p>
  <form method="post" action="/password" class="stacked">${csrfField(options.csrf)}
    <label>Current password <input type="password" name="current" required autocomplete="current-password"></label>
    <label>New password <input type="password" name="password" required minlength="8" autocomplete="new-password"></label>
    <label>New password, again <input type="password" name="confirm" required minlength="8" autocomplete="new-password"></label>
    <button>Change password</button>
  </form>
</section>`;
}

/** An error page: 403, 404, 413, 500. */
export function errorPage(title: string, text: string): SafeHTML {
  return html`<section class="card narrow"><h1>${title}</h1><p>${text}</p><p><a href="/">Back to the start</a></p></section>`;
}
