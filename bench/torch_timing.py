"""What the PyTorch sides of make bench share: the command line, the seed,
the training step on a fixed pool of random batches, and the timed loop with
the one line bench/run reads ("images_per_s=<float> iterations=<n>")."""
import argparse
import time

import torch


def options(iterations, warmup, batch):
    """--iterations, --warmup, --threads (2) and --batch, with these defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=iterations)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=batch)
    return ap


def start(a):
    """The thread count of the command line, and the seed."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)


def random_batches(batch, size, count):
    """count batches of random size x size RGB images and labels 0-9."""
    return [(torch.rand(batch, 3, size, size), torch.randint(0, 10, (batch,)))
            for _ in range(count)]


def sgd_step(net, opt, loss_fn, pool, after=None):
    """A step function for step i: forward and backward on batch i of the
    pool (in turn), the optimiser's step, then after() when given."""
    def step(i):
        x, y = pool[i % len(pool)]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        if after:
            after()
    return step


def run(step, a):
    """a.warmup steps, then a.iterations timed ones; prints the line that
    bench/train_bench prints: the mean rate, the rate of the fastest step
    (the least disturbed on a shared machine) and CPU seconds per image."""
    for i in range(a.warmup):
        step(i)
    times = []
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(a.iterations):
        s = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - s)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("images_per_s=%.1f best_images_per_s=%.1f cpu_s_per_image=%.3g iterations=%d" % (
        a.iterations * a.batch / dt, a.batch / min(times), cpu / (a.iterations * a.batch), a.iterations))
