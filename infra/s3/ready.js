#!/usr/bin/env node
// Exits 0 once the S3 server named in an s3.env file (written by ./start) answers with its identity's
// keys, has the bucket (created when missing) and takes a write: SeaweedFS answers reads some seconds
// before its first write can take the filer's lock. Used by ./start to wait for the server.
const fs = require('node:fs');
const {
  S3Client,
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
} = require('@aws-sdk/client-s3');

const env = Object.fromEntries(
  fs
    .readFileSync(process.argv[2], 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const client = new S3Client({
  endpoint: env.LMSI_S3_ENDPOINT,
  region: env.AWS_REGION,
  forcePathStyle: true,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 1,
});
(async () => {
  const Bucket = env.LMSI_S3_BUCKET;
  try {
    await client.send(new HeadBucketCommand({ Bucket }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket }));
    await client.send(new HeadBucketCommand({ Bucket }));
  }
  // A key outside any store's folders (objects/, drafts/, named/ under a prefix).
  const Key = '.lmsi-ready';
  await client.send(new PutObjectCommand({ Bucket, Key, Body: 'ready' }));
  await client.send(new DeleteObjectCommand({ Bucket, Key }));
})().catch((e) => {
  console.error(`S3 not ready yet: ${e.name ?? ''} ${e.message}`);
  process.exit(1);
});
