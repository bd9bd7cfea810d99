import { v7 as uuidv7, validate, version } from 'uuid';

/** Ids are UUIDv7 made in the application: time-ordered, so they double as a stable sort key. */
export function newId(): string {
  return uuidv7();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value) && validate(value);
}

export function isUuidV7(value: string): boolean {
  return isUuid(value) && version(value) === 7;
}
