// The app's users: in a `users` table of the SQLite file when the session store is SQLite, in
// memory otherwise (a demo: they vanish when the app stops). Each user has a checkvalue, a random
// value renewed at every password change: `checkSession` compares it on every request, so a
// change ends every other session of the user.
import { randomBytes, randomUUID } from 'node:crypto';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { SQLiteConnection } from './sqlite-file.ts';

/** A user as the app sees it (never the password hash). */
export interface User {
  id: string;
  email: string;
  checkvalue: string;
  createdAt: number;
}

interface UserRow extends User {
  passwordHash: string;
}

/** Where rows live: a SQLite table or a map. */
interface UserRows {
  insert(row: UserRow): boolean;
  byEmail(email: string): UserRow | undefined;
  byID(id: string): UserRow | undefined;
  update(id: string, passwordHash: string, checkvalue: string): void;
}

/** The user directory of the app. */
export interface Users {
  /** Where users are kept, for the log: "the SQLite file" or "memory". */
  readonly where: string;
  /** Creates a user; `undefined` when the email is taken. */
  create(email: string, password: string): Promise<User | undefined>;
  /** The user with this email and password, or `undefined`. */
  authenticate(email: string, password: string): Promise<User | undefined>;
  find(id: string): Promise<User | undefined>;
  /** Sets a new password and a new checkvalue; returns the checkvalue. */
  setPassword(id: string, password: string): Promise<string>;
  /** A new checkvalue with the same password ("sign out everywhere" without a user index). */
  renewCheckvalue(id: string): Promise<string>;
}

const newCheckvalue = (): string => randomBytes(16).toString('base64url');
const publicUser = ({ passwordHash: _, ...user }: UserRow): User => user;

function sqliteRows(database: SQLiteConnection): UserRows {
  database.exec(`CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    checkvalue    TEXT NOT NULL,
    created_at    INTEGER NOT NULL
  )`);
  const columns =
    'id, email, password_hash AS passwordHash, checkvalue, created_at AS createdAt FROM users';
  const insert = database.prepare(
    'INSERT INTO users VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const byEmail = database.prepare(`SELECT ${columns} WHERE email = ?`);
  const byID = database.prepare(`SELECT ${columns} WHERE id = ?`);
  const update = database.prepare(
    'UPDATE users SET password_hash = ?, checkvalue = ? WHERE id = ?',
  );
  return {
    insert: (row) =>
      Number(
        insert.run(row.id, row.email, row.passwordHash, row.checkvalue, row.createdAt).changes,
      ) === 1,
    byEmail: (email) => byEmail.get(email) as UserRow | undefined,
    byID: (id) => byID.get(id) as UserRow | undefined,
    update: (id, hash, checkvalue) => void update.run(hash, checkvalue, id),
  };
}

function memoryRows(): UserRows {
  const rows = new Map<string, UserRow>();
  const byEmail = (email: string) => [...rows.values()].find((row) => row.email === email);
  return {
    insert: (row) => byEmail(row.email) === undefined && rows.set(row.id, row) !== undefined,
    byEmail,
    byID: (id) => rows.get(id),
    update(id, passwordHash, checkvalue) {
      const row = rows.get(id);
      if (row !== undefined) rows.set(id, { ...row, passwordHash, checkvalue });
    },
  };
}

/** The user directory: in `database` when given, else in memory. */
export async function openUsers(database?: SQLiteConnection): Promise<Users> {
  const rows = database === undefined ? memoryRows() : sqliteRows(database);
  // Unknown emails are checked against this hash too, so a login takes as long either way.
  const decoy = await hashPassword(randomBytes(16).toString('base64url'));
  return {
    where: database === undefined ? 'memory' : 'the SQLite file',
    async create(email, password) {
      const row: UserRow = {
        id: randomUUID(),
        email,
        passwordHash: await hashPassword(password),
        checkvalue: newCheckvalue(),
        createdAt: Date.now(),
      };
      return rows.insert(row) ? publicUser(row) : undefined;
    },
    async authenticate(email, password) {
      const row = rows.byEmail(email);
      const matches = await verifyPassword(password, row?.passwordHash ?? decoy);
      return row !== undefined && matches ? publicUser(row) : undefined;
    },
    async find(id) {
      const row = rows.byID(id);
      return row === undefined ? undefined : publicUser(row);
    },
    async setPassword(id, password) {
      const checkvalue = newCheckvalue();
      rows.update(id, await hashPassword(password), checkvalue);
      return checkvalue;
    },
    async renewCheckvalue(id) {
      const row = rows.byID(id);
      const checkvalue = newCheckvalue();
      if (row !== undefined) rows.update(id, row.passwordHash, checkvalue);
      return checkvalue;
    },
  };
}
