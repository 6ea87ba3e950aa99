// Which ClickHouse errors mean "this data or statement is wrong" (retrying cannot help) — all
// others (memory, disk, too many parts, timeouts, a server restarting, the network) are waited
// out, because the data is safe in the spool meanwhile. One list for both executors.

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

export function isPermanentClickHouseCode(code: number | string | undefined): boolean {
  const n = typeof code === 'string' ? Number(code) : code;
  return n !== undefined && Number.isInteger(n) && PERMANENT_CLICKHOUSE_CODES.has(n);
}
