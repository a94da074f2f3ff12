/**
 * The statement the checks send besides their own queries.
 *
 * @module
 */

/**
 * Records one check result. `$1` run id, `$2` pipeline, `$3` check, `$4` severity, `$5`
 * observed, `$6` threshold, `$7` passed, `$8` message. The table is created by the project's
 * migration `0008_check_results.sql`.
 */
export const INSERT_RESULT = {
  text: `INSERT INTO pipeline.check_results
    (run_id, pipeline, check_name, severity, observed, threshold, passed, message)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
} as const;
