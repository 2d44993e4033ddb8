"""Events/s decoding the same AMI bytes with libami and with panoramisk's own parser path.

Usage: python bench_decode.py CORPUS [--rounds N]

Both sides read `Event` and `Channel` from every event. libami: `libami.Decoder` fed in 64 KiB
chunks. panoramisk: its `AMIProtocol.data_received` (decode, split on blank lines,
`Message.from_line`, dispatch) with a factory whose `dispatch` reads the two headers, fed the
same chunks. After one untimed round each (imports, first touches of memory), each side runs
`--rounds` times (default 5) in this process, alternating; each round
gives a ratio (libami's events/s over panoramisk's in the same round), and the median ratio is the
result, with the minimum and maximum beside it. Times are the process's CPU time
(`time.process_time`), so that other jobs on a busy machine do not decide the result.
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
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data = args.corpus.read_bytes()
    parts = chunks(data)
    # One untimed round of each side first: the first one imports its module (libami loads
    # its shared library) and touches its memory for the first time, which is not decoding.
    run_libami(parts)
    run_panoramisk(parts)
    ami, pk = [], []
    for _ in range(args.rounds):
        ami.append(timed(run_libami, parts))
        pk.append(timed(run_panoramisk, parts))
    counts = {n for n, _ in ami} | {n for n, _ in pk}
    if len(counts) != 1:
        print(f"event counts differ: {sorted(counts)}", file=sys.stderr)
        return 1
    (n,) = counts
    r_ami = sorted(n / t for _, t in ami)
    r_pk = sorted(n / t for _, t in pk)
    ratios = sorted((n / ta) / (n / tp) for (_, ta), (_, tp) in zip(ami, pk))
    mid = len(ratios) // 2
    print(f"corpus: {len(data)} bytes, {n} events, {args.rounds} rounds (CPU time)")
    print(f"libami:     {r_ami[mid]:12,.0f} events/s median ({r_ami[0]:,.0f} to {r_ami[-1]:,.0f})")
    print(f"panoramisk: {r_pk[mid]:12,.0f} events/s median ({r_pk[0]:,.0f} to {r_pk[-1]:,.0f})")
    print(f"ratio:      {ratios[mid]:12.1f}x median ({ratios[0]:.1f}x to {ratios[-1]:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
