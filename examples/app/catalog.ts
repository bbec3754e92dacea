// What the app keeps in a session, and the little shop the cart draws from.

/** The session data of this app: a visit counter and a cart (product ID → quantity). */
export interface AppData {
  visits: number;
  cart: Record<string, number>;
}

/** One thing that can go in the cart. */
export interface Product {
  id: string;
  name: string;
  /** Price in cents. */
  price: number;
}

/** The shop: a few things one might keep in a large jar. */
export const CATALOG: readonly Product[] = [
  { id: 'olive-oil', name: 'Olive oil, 1 l', price: 1450 },
  { id: 'figs', name: 'Dried figs', price: 690 },
  { id: 'honey', name: 'Thyme honey', price: 1120 },
  { id: 'grain', name: 'Barley, 5 kg', price: 980 },
];

/** Most of one product a cart may hold. */
export const MAX_QUANTITY = 9;

/** The product with this ID, or `undefined`. */
export function productByID(id: string | null): Product | undefined {
  return CATALOG.find((product) => product.id === id);
}

/** A price in cents as euros: `€14.50`. */
export function formatPrice(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}
