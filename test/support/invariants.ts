/** The conservation laws over the databases: `agora chaos` checks them too, so they live with it. */
export { checkInvariants, type InvariantReport } from '@agora/cli';
