// HTML that escapes by default: every value put into an `html` template is escaped unless it is
// itself a piece of `html`, so a page cannot forget to escape what a user typed.

/** A piece of HTML that is safe to insert as it is. */
export class SafeHTML {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML: the five characters that matter become entities. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}

function render(value: unknown): string {
  if (value instanceof SafeHTML) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHTML(String(value));
}

/** A template tag: `html\`<p>${name}</p>\`` escapes `name`; arrays and nested `html` are joined. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHTML {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHTML(out);
}
