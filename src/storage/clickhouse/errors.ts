// Which ClickHouse errors mean "this data or statement is wrong" (retrying cannot help) — all
// others (memory, disk, too many parts, timeouts, a server restarting, the network) are waited
// out, because the data is safe in the spool meanwhile. Among those, the ones that mean "the
// engine is overwhelmed by what it was given" are back-pressure: retrying at full speed is what
// keeps it overwhelmed, so the writer waits longer between attempts. One list for both executors.

export const PERMANENT_CLICKHOUSE_CODES = new Set<number>([
  6, // CANNOT_PARSE_TEXT
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  33, // CANNOT_READ_ALL_DATA
  36, // BAD_ARGUMENTS
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  43, // ILLEGAL_TYPE_OF_ARGUMENT
  44, // ILLEGAL_COLUMN
  47, // UNKNOWN_IDENTIFIER
  53, // TYPE_MISMATCH
  62, // SYNTAX_ERROR
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  407, // DECIMAL_OVERFLOW
  456, // UNKNOWN_QUERY_PARAMETER
  457, // BAD_QUERY_PARAMETER
]);

/** Errors that say the engine needs time (to merge parts) before it takes more. */
export const BACK_PRESSURE_CLICKHOUSE_CODES = new Set<number>([
  252, // TOO_MANY_PARTS: inserts come faster than parts merge (or into too many partitions)
]);

const codeOf = (code: number | string | undefined): number | undefined => (typeof code === 'string' ? Number(code) : code);

export function isPermanentClickHouseCode(code: number | string | undefined): boolean {
  const n = codeOf(code);
  return n !== undefined && Number.isInteger(n) && PERMANENT_CLICKHOUSE_CODES.has(n);
}

export function isBackPressureClickHouseCode(code: number | string | undefined): boolean {
  const n = codeOf(code);
  return n !== undefined && Number.isInteger(n) && BACK_PRESSURE_CLICKHOUSE_CODES.has(n);
}
