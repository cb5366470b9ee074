// What the number of day partitions costs a read (issue 13: the partition size):
// get-by-id (pruned at run time by event_ids' timestamp), the newest-100 list (a
// Merge Append over every partition) and a one-row insert, with 7, 92, 366 and
// 1,096 day partitions, prepared statements as Inlet sends them (mean of 200 after
// 20 warm-up runs). `bun bench/partition-count.ts`
import postgres from 'postgres'
import { migrate } from '../src/store/migrate'
import { ensurePartition, dayStart } from '../src/store/partitions'
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} })
for (const n of [7, 92, 366, 1096]) {
  await admin.unsafe('drop database if exists inlet_lc_plan with (force)'); await admin.unsafe('create database inlet_lc_plan')
  const sql = postgres('postgres://postgres@127.0.0.1:5432/inlet_lc_plan', { max: 1, onnotice: () => {}, prepare: true }) as any
  await migrate(sql)
  const today = dayStart(Date.now())
  for (let d = 0; d < n; d++) await ensurePartition(sql, 'events', today - (n - 2 - d) * 86400000, 5000)
  await sql`insert into events (project_id, id, type, name, "timestamp", received_at, user_id, properties, context)
    select 1, 'e' || g, 'track', 'N', now() - g * interval '1 min', now(), 'u', '{}', '{}' from generate_series(1, 2000) g`
  await sql`insert into event_ids select project_id, id, "timestamp" from events`
  await sql`analyze`
  const time = async (label: string, f: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await f() // warm: generic plan after 5
    const t = performance.now(); for (let i = 0; i < 200; i++) await f()
    return `${label} ${((performance.now() - t) / 200).toFixed(2)} ms`
  }
  const get = await time('get-by-id', () => sql`select id from events where project_id = ${1} and id = ${'e5'} and "timestamp" = (select "timestamp" from event_ids where project_id = ${1} and id = ${'e5'})`)
  const list = await time('list newest 100', () => sql`select id from events where project_id = ${1} order by "timestamp" desc, id desc limit ${100}`)
  const insert = await time('insert 1 row', () => sql`insert into events (project_id, id, type, name, "timestamp", received_at, properties, context) values (${1}, ${'x' + Math.random()}, 'track', 'N', now(), now(), '{}', '{}')`)
  console.log(`${n} partitions: ${get}; ${list}; ${insert}`)
  await sql.end()
}
await admin.unsafe('drop database if exists inlet_lc_plan with (force)'); await admin.end()
