// TEMPORARY: kept only for tests/integration/stack.test.ts and supervision.test.ts until they move
// to the toolkit (another engineer is finishing them). Use ./wait.js.
export { waitFor } from './wait.js';
