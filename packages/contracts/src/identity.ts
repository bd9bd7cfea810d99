import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { PageQuery, Uuid, pageOf } from './common.js';

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

export const ListUsersQuery = Type.Object({ ...PageQuery });
export type ListUsersQuery = Static<typeof ListUsersQuery>;

export const UserPage = pageOf(User);
export type UserPage = Static<typeof UserPage>;
