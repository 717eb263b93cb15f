"""boto3 against vodupd's S3 dialect, driven by tests/compat/s3-tools.test.mjs.

Usage: s3_boto3.py ENDPOINT BUCKET WORKDIR (keys in AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY). Each step compares the bytes it reads back with the bytes it wrote
and prints one line "ok <step>"; any mismatch or error exits non-zero with the reason.
"""
import hashlib
import os
import sys
import urllib.request

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, bucket, work = sys.argv[1:4]
MiB = 1024 * 1024


def client(**cfg):
    return boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                        config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, **cfg))


def check(cond, what):
    if not cond:
        sys.exit('FAIL ' + what)


s3 = client()
print('botocore', botocore.__version__, flush=True)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass

# put/get/head/delete with the default checksum settings
data = os.urandom(300001)
r = s3.put_object(Bucket=bucket, Key='b/one.bin', Body=data, Metadata={'note': 'boto'})
check(r['ETag'] == '"%s"' % hashlib.md5(data).hexdigest(), 'put ETag %s' % r['ETag'])
got = s3.get_object(Bucket=bucket, Key='b/one.bin')
check(got['Body'].read() == data, 'get bytes')
check(got['Metadata'].get('note') == 'boto', 'metadata %r' % got['Metadata'])
h = s3.head_object(Bucket=bucket, Key='b/one.bin')
check(h['ContentLength'] == len(data), 'head length')
print('ok put-get-head', flush=True)

# ChecksumAlgorithm: whatever this botocore sends for it (a header over a plain body, or
# aws-chunked with a trailer): the line printed says which, for the log.
wire = {}


def record(request, **_):
    def get(name, default):
        v = request.headers.get(name, default)
        return v.decode() if isinstance(v, bytes) else v
    wire['how'] = 'content-encoding=%s trailer=%s' % (get('Content-Encoding', '-'), get('x-amz-trailer', '-'))


s3.meta.events.register('before-send.s3.PutObject', record)
for alg in ('CRC32', 'SHA256'):
    d = os.urandom(100000 + len(alg))
    r = s3.put_object(Bucket=bucket, Key='b/sum-' + alg, Body=d, ChecksumAlgorithm=alg)
    check(('Checksum' + alg) in r, '%s not echoed: %r' % (alg, sorted(r)))
    check(s3.get_object(Bucket=bucket, Key='b/sum-' + alg)['Body'].read() == d, alg + ' get bytes')
    print('ok checksum', alg, flush=True)
    print('  sent as:', wire.get('how'), flush=True)

# multipart through upload_file with a small threshold, with and without a checksum
src = os.path.join(work, 'boto-big.bin')
with open(src, 'wb') as f:
    f.write(os.urandom(12 * MiB + 3))
want = hashlib.md5(open(src, 'rb').read()).hexdigest()
tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
for name, extra in (('default', None), ('crc32', {'ChecksumAlgorithm': 'CRC32'})):
    key = 'b/big-' + name
    s3.upload_file(src, bucket, key, Config=tc, ExtraArgs=extra)
    etag = s3.head_object(Bucket=bucket, Key=key)['ETag']
    check(etag.endswith('-3"'), 'multipart ETag %s' % etag)
    dst = os.path.join(work, 'boto-big.back')
    s3.download_file(bucket, key, dst, Config=tc)
    check(hashlib.md5(open(dst, 'rb').read()).hexdigest() == want, 'multipart bytes ' + name)
    print('ok multipart', name, flush=True)

# presigned GET, fetched without boto
url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'b/one.bin'}, ExpiresIn=300)
check(urllib.request.urlopen(url).read() == data, 'presigned bytes')
print('ok presign', flush=True)

s3.delete_object(Bucket=bucket, Key='b/one.bin')
try:
    s3.head_object(Bucket=bucket, Key='b/one.bin')
    check(False, 'deleted object still there')
except botocore.exceptions.ClientError as e:
    check(e.response['Error']['Code'] == '404', 'head after delete %r' % e.response['Error'])
print('ok delete', flush=True)
