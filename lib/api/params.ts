/**
 * User functions run on the Task Managers with the job's (and their operator's) params in
 * scope as the free variable `params`. This declaration lets TypeScript job code say
 * `params.minLength` inside such a function. The values are the user's own, typed only by
 * them, hence the one deliberate `any`; it is undefined outside user functions.
 */
declare global {
  // eslint-disable-next-line no-var
  var params: Readonly<Record<string, any>>;
}

export {};
