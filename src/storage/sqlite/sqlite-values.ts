// Conversions between SQLite values and the domain's that only SQLite needs: it has no boolean
// type, so flags are stored as 0 and 1.

export const toFlag = (b: boolean): 0 | 1 => (b ? 1 : 0);

export const fromFlag = (n: number): boolean => n === 1;
