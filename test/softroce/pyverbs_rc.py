#!/usr/bin/python3
"""softroce: Debian's python3-pyverbs (rdma-core's own Python binding, run
unmodified) drives an RC QP pair across two emulated hosts: this process is
host a; host b is a second process (this script with the argument "b") that
talks to it over its stdin/stdout.  Host a WRITEs, READs and SENDs to b and
checks the bytes; then a WRITE with a wrong rkey must complete with a remote
access error and move the QP to the error state.  Exit 0 when all holds."""
import json
import os
import subprocess
import sys
import time

from pyverbs.addr import AHAttr, GID, GlobalRoute
from pyverbs.cq import CQ
from pyverbs.device import Context
from pyverbs.mr import MR
from pyverbs.pd import PD
from pyverbs.qp import QP, QPAttr, QPCap, QPInitAttr
from pyverbs.wr import RecvWR, SendWR, SGE
import pyverbs.enums as e

DEV, GID_INDEX, SIZE = 'roceP2p1s0f0', 3, 4096
ACCESS = (e.IBV_ACCESS_LOCAL_WRITE | e.IBV_ACCESS_REMOTE_WRITE |
          e.IBV_ACCESS_REMOTE_READ)


class Host:
    """One RC endpoint: device, PD, CQ, one MR and the QP (left in INIT)."""

    def __init__(self):
        self.ctx = Context(name=DEV)
        self.pd = PD(self.ctx)
        self.cq = CQ(self.ctx, 64)
        self.mr = MR(self.pd, SIZE, ACCESS)
        cap = QPCap(max_send_wr=16, max_recv_wr=16, max_send_sge=1, max_recv_sge=1)
        init = QPInitAttr(qp_type=e.IBV_QPT_RC, scq=self.cq, rcq=self.cq, cap=cap)
        attr = QPAttr(port_num=1)
        attr.qp_access_flags = ACCESS
        self.qp = QP(self.pd, init, attr)
        self.gid = self.ctx.query_gid(1, GID_INDEX)

    def info(self):
        return {'qpn': self.qp.qp_num, 'gid': str(self.gid), 'addr': self.mr.buf,
                'rkey': self.mr.rkey}

    def connect(self, peer):
        gr = GlobalRoute(dgid=GID(peer['gid']), sgid_index=GID_INDEX, hop_limit=64)
        attr = QPAttr(qp_state=e.IBV_QPS_RTR)
        attr.ah_attr = AHAttr(is_global=1, port_num=1, gr=gr)
        attr.path_mtu = e.IBV_MTU_1024
        attr.dest_qp_num = peer['qpn']
        attr.rq_psn = 0
        attr.max_dest_rd_atomic = 1
        attr.min_rnr_timer = 12
        attr.qp_access_flags = ACCESS
        self.qp.to_rtr(attr)
        attr.sq_psn = 0
        attr.timeout = 14
        attr.retry_cnt = 7
        attr.rnr_retry = 7
        attr.max_rd_atomic = 1
        self.qp.to_rts(attr)

    def post_recv(self, wr_id):
        self.qp.post_recv(RecvWR(wr_id=wr_id, num_sge=1,
                                 sg=[SGE(self.mr.buf, 256, self.mr.lkey)]))

    def post(self, wr_id, opcode, peer, rkey=None, off=0, length=256):
        wr = SendWR(wr_id=wr_id, opcode=opcode, num_sge=1,
                    sg=[SGE(self.mr.buf + off, length, self.mr.lkey)],
                    send_flags=e.IBV_SEND_SIGNALED)
        if opcode != e.IBV_WR_SEND:
            wr.set_wr_rdma(peer['rkey'] if rkey is None else rkey, peer['addr'] + off)
        self.qp.post_send(wr)

    def poll(self, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            n, wcs = self.cq.poll(1)
            if n:
                return wcs[0]
            time.sleep(0.001)
        raise TimeoutError('no completion within %.0f s' % timeout)


def send(f, obj):
    f.write(json.dumps(obj) + '\n')
    f.flush()


def host_b():
    """Serves host a's requests: its info, posting a receive, reading bytes."""
    h = Host()
    send(sys.stdout, h.info())
    for line in sys.stdin:
        req = json.loads(line)
        if req['op'] == 'connect':
            h.connect(req['peer'])
            send(sys.stdout, {'ok': True})
        elif req['op'] == 'fill':
            h.mr.write(bytes([req['byte']]) * req['len'], req['len'], req['off'])
            send(sys.stdout, {'ok': True})
        elif req['op'] == 'read':
            send(sys.stdout, {'data': h.mr.read(req['len'], req['off']).hex()})
        elif req['op'] == 'recv':
            h.post_recv(req['wr_id'])
            send(sys.stdout, {'ok': True})
        elif req['op'] == 'poll':
            wc = h.poll()
            send(sys.stdout, {'wr_id': wc.wr_id, 'status': wc.status,
                              'byte_len': wc.byte_len})
        elif req['op'] == 'exit':
            return 0
    return 0


def check(cond, what):
    if not cond:
        print('pyverbs_rc: FAIL: ' + what)
        sys.exit(1)


def host_a():
    env = dict(os.environ, SOFTROCE_HOST='b')
    b = subprocess.Popen([sys.executable, __file__, 'b'], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)

    def ask(**req):
        send(b.stdin, req)
        line = b.stdout.readline()
        check(line, 'host b stopped answering (%s)' % req['op'])
        return json.loads(line)

    try:
        peer = json.loads(b.stdout.readline())
        a = Host()
        ask(op='connect', peer=a.info())
        a.connect(peer)

        pattern = bytes((i * 7 + 1) & 0xff for i in range(256))
        a.mr.write(pattern, 256, 0)
        a.post(1, e.IBV_WR_RDMA_WRITE, peer)
        wc = a.poll()
        check(wc.status == e.IBV_WC_SUCCESS and wc.wr_id == 1, 'WRITE completion')
        check(bytes.fromhex(ask(op='read', off=0, len=256)['data']) == pattern,
              'WRITE bytes at host b')
        print('pyverbs_rc: WRITE 256 B: ok')

        ask(op='fill', off=1024, len=256, byte=0x3c)
        a.post(2, e.IBV_WR_RDMA_READ, peer, off=1024)
        wc = a.poll()
        check(wc.status == e.IBV_WC_SUCCESS and wc.byte_len == 256, 'READ completion')
        check(a.mr.read(256, 1024) == b'\x3c' * 256, 'READ bytes at host a')
        print('pyverbs_rc: READ 256 B: ok')

        ask(op='recv', wr_id=77)
        a.mr.write(b'hello host b', 12, 2048)
        a.post(3, e.IBV_WR_SEND, peer, off=2048, length=12)
        check(a.poll().status == e.IBV_WC_SUCCESS, 'SEND completion')
        got = ask(op='poll')
        check(got['status'] == e.IBV_WC_SUCCESS and got['wr_id'] == 77 and
              got['byte_len'] == 12, 'SEND receive completion %s' % got)
        check(bytes.fromhex(ask(op='read', off=0, len=12)['data']) == b'hello host b',
              'SEND bytes at host b')
        print('pyverbs_rc: SEND 12 B: ok')

        a.post(4, e.IBV_WR_RDMA_WRITE, peer, rkey=peer['rkey'] ^ 0x5500)
        wc = a.poll()
        check(wc.status == e.IBV_WC_REM_ACCESS_ERR,
              'bad rkey: status %d, want IBV_WC_REM_ACCESS_ERR' % wc.status)
        check(a.qp.query(e.IBV_QP_STATE)[0].qp_state == e.IBV_QPS_ERR,
              'QP not in error after a remote access error')
        print('pyverbs_rc: WRITE with a bad rkey: remote access error: ok')
        send(b.stdin, {'op': 'exit'})
        check(b.wait(timeout=10) == 0, 'host b exit status')
    finally:
        if b.poll() is None:
            b.kill()
    print('pyverbs_rc: ok')
    return 0


if __name__ == '__main__':
    sys.exit(host_b() if sys.argv[1:] == ['b'] else host_a())
