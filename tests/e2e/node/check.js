// node-postgres against cuvee's Postgres door, run by tests/e2e/test_postgres.py:
// `node check.js host port`. Prints one JSON line per check.
const { Client } = require('pg');

async function main() {
  const [host, port] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), database: 'cuvee', user: 'postgres' });
  await client.connect();
  const plain = await client.query('SELECT count(*) AS n FROM "baseballStats"');
  console.log(JSON.stringify({ count: String(plain.rows[0].n) }));
  const sql = 'SELECT "teamID", SUM("homeRuns") AS hr FROM "baseballStats" WHERE "yearID" >= $1 AND league = $2 GROUP BY "teamID" ORDER BY hr DESC LIMIT 3';
  const prepared = await client.query({ name: 'top_teams', text: sql, values: [2000, 'AL'] });
  const again = await client.query({ name: 'top_teams', text: sql, values: [2000, 'AL'] });
  console.log(JSON.stringify({ rows: prepared.rows.map(r => [r.teamID, Number(r.hr)]), same: JSON.stringify(again.rows) === JSON.stringify(prepared.rows) }));
  try {
    await client.query('SELECT nope FROM "baseballStats"');
  } catch (e) {
    console.log(JSON.stringify({ sqlstate: e.code }));
  }
  const after = await client.query('SELECT 1 AS one');
  console.log(JSON.stringify({ after: after.rows[0].one }));
  await client.end();
}

main().catch(e => { console.error(e); process.exit(1); });
