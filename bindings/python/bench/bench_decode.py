"""Events/s decoding the same AMI bytes with libami and with panoramisk's own parser path.

Usage: python bench_decode.py CORPUS [--rounds N]

Both sides read `Event` and `Channel` from every event. libami: `libami.Decoder` fed in 64 KiB
chunks. panoramisk: its `AMIProtocol.data_received` (decode, split on blank lines,
`Message.from_line`, dispatch) with a factory whose `dispatch` reads the two headers, fed the
same chunks. Each side runs `--rounds` times in this process, alternating, and the best round
counts. Times are the process's CPU time (`time.process_time`), so that other jobs on a busy
machine do not decide the result.
"""

import argparse
import pathlib
import sys
import time

CHUNK = 65536


def chunks(data):
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_libami(parts):
    import libami

    decoder = libami.Decoder("client")
    message = libami.Message
    events = 0
    sink = None
    for part in parts:
        decoder.feed(part)
        for item in decoder:
            if type(item) is message and item.kind == "event":
                sink = item["Event"], item.get("Channel")
                events += 1
    return events, sink


def run_panoramisk(parts):
    from panoramisk.ami_protocol import AMIProtocol

    class Factory:
        events = 0
        sink = None

        def dispatch(self, message):
            Factory.sink = message["Event"], message.get("Channel")
            Factory.events += 1

    protocol = AMIProtocol()
    protocol.connection_made(None)
    protocol.factory = Factory()
    for part in parts:
        protocol.data_received(part)
    return Factory.events, Factory.sink


def timed(fn, parts):
    start = time.process_time()
    count, _ = fn(parts)
    return count, time.process_time() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", type=pathlib.Path)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    data = args.corpus.read_bytes()
    parts = chunks(data)
    ami, pk = [], []
    for _ in range(args.rounds):
        ami.append(timed(run_libami, parts))
        pk.append(timed(run_panoramisk, parts))
    n_ami, t_ami = min(ami, key=lambda r: r[1])
    n_pk, t_pk = min(pk, key=lambda r: r[1])
    if n_ami != n_pk:
        print(f"event counts differ: libami {n_ami}, panoramisk {n_pk}", file=sys.stderr)
        return 1
    r_ami, r_pk = n_ami / t_ami, n_pk / t_pk
    print(f"corpus: {len(data)} bytes, {n_ami} events, best of {args.rounds} rounds (CPU time)")
    print(f"libami:     {r_ami:12,.0f} events/s ({t_ami * 1000:.1f} ms)")
    print(f"panoramisk: {r_pk:12,.0f} events/s ({t_pk * 1000:.1f} ms)")
    print(f"ratio:      {r_ami / r_pk:12.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
