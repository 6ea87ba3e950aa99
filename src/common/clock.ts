// The time that is recorded (a version's createdAt, an alias move's or an audit entry's at) and
// the time that decides (a key's expiry, a rate limit) come from a clock handed in at
// construction, so that a test can move time on instead of waiting for it to pass.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
