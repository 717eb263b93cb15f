// The AWS CLI against a vodupd the test started: one config (path-style addressing, SigV4,
// the part size), an environment that reads nothing from the user's home, and a runner.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SLOW } from './vodupd.mjs';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export const haveAws = (() => { const r = spawnSync('aws', ['--version']); return !r.error && r.status === 0; })();

/**
 * An awscli session for srv (a started vodupd) with its files under work (a temporary dir):
 * { endpoint, env, run(cmd, args, extraEnv), aws(args, extraEnv), awsFails(args, extraEnv, code) }.
 * partMiB: multipart threshold and part size (0: awscli's defaults).
 */
export function awsSession(srv, work, { partMiB = 8 } = {}) {
  const endpoint = `http://127.0.0.1:${srv.port}`;
  const cfg = path.join(work, 'aws-config');
  const parts = partMiB ? `    multipart_threshold = ${partMiB}MB\n    multipart_chunksize = ${partMiB}MB\n` : '';
  fs.writeFileSync(cfg, `[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n${parts}    signature_version = s3v4\n`);
  const env = {
    PATH: process.env.PATH, HOME: work, AWS_CONFIG_FILE: cfg, AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'),
    AWS_ACCESS_KEY_ID: srv.creds.AccessKeyId, AWS_SECRET_ACCESS_KEY: srv.creds.AccessKeySecret,
    AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '',
  };
  /** Runs cmd with this session's environment; resolves {stdout, stderr}, rejects with them on failure. */
  const tool = (cmd, args, extraEnv = {}) =>
    run(cmd, args, { env: { ...env, ...extraEnv }, maxBuffer: 64 * MiB, timeout: 240000 * SLOW });
  const aws = (args, extraEnv) => tool('aws', ['--endpoint-url', endpoint, ...args], extraEnv);
  /** aws must fail with this S3 error code in its message. */
  async function awsFails(args, extraEnv, code) {
    await assert.rejects(aws(args, extraEnv), err => {
      assert.match(err.stderr, new RegExp(`\\(${code}\\)`), err.stderr);
      return true;
    });
  }
  return { endpoint, env, tool, aws, awsFails };
}
