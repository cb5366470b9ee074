// Preloaded once per `bun test` run: creates this run's own database on the
// Postgres at TEST_DATABASE_URL (default: the local one), migrates it, and drops
// it when the run ends, so runs never see each other's data.

import { afterAll } from 'bun:test'
import postgres from 'postgres'

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `inlet_test_${Date.now()}_${process.pid}`
const admin = postgres(adminUrl, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(adminUrl)
url.pathname = `/${name}`
process.env.INLET_TEST_DATABASE_URL = url.toString()
process.env.INLET_TEST_ADMIN_URL = adminUrl

afterAll(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
})
