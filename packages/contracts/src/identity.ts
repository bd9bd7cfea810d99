import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { PageQuery, Timestamp, Uuid, pageOf } from './common.js';

export const Role = Type.Union([Type.Literal('customer'), Type.Literal('admin')]);

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: LIMITS.emailChars });

export const User = Type.Object({ id: Uuid, email: Type.String(), name: Type.String(), role: Role });
export type User = Static<typeof User>;

export const RegisterBody = Type.Object({
  email: Email,
  password: Type.String({ minLength: LIMITS.passwordMin, maxLength: LIMITS.passwordMax }),
  name: Type.String({ minLength: 1, maxLength: LIMITS.nameChars }),
});
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: LIMITS.emailChars }),
  password: Type.String({ minLength: 1, maxLength: LIMITS.passwordMax }),
});
export type LoginBody = Static<typeof LoginBody>;

export const AuthResult = Type.Object({ user: User, token: Type.String() });
export type AuthResult = Static<typeof AuthResult>;

/** Claims of the access token identity issues and the gateway verifies. */
export interface TokenClaims {
  sub: string;
  role: Static<typeof Role>;
  email: string;
}

export type Role = Static<typeof Role>;

/** `GET /users/:id` and `GET /me` answer a User; `GET /users` (admin) pages through them. */
export const UserParams = Type.Object({ id: Uuid });
export type UserParams = Static<typeof UserParams>;

export const ListUsersQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: LIMITS.searchQueryChars, description: 'part of the name or e-mail, in any case' })),
  ...PageQuery,
});
export type ListUsersQuery = Static<typeof ListUsersQuery>;

/** A user as the admin's customers list shows it: with the time the account was created. */
export const ListedUser = Type.Object({ id: Uuid, email: Type.String(), name: Type.String(), role: Role, createdAt: Timestamp });
export type ListedUser = Static<typeof ListedUser>;

/** `GET /users` (admin): newest accounts first. */
export const UserPage = pageOf(ListedUser);
export type UserPage = Static<typeof UserPage>;
