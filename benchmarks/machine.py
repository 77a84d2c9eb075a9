"""What the shared machine was doing during a benchmark: the CPU time the hypervisor took (steal).

On these VMs the host lends the 2 cores to others; in /proc/stat that time is "steal". A latency
measured while 30 % of the CPU was stolen is not the same measurement as one on a quiet host (seen
here on 2026-12-02: vmstat's st column at 24-38 % while a browser run's medians doubled), so the
benchmarks store it next to the load average.
"""


def cpu_times(stat="/proc/stat"):
    """The machine-wide CPU counters (user, nice, system, idle, iowait, irq, softirq, steal, ...) in
    clock ticks, or None where /proc/stat does not exist."""
    try:
        with open(stat) as f:
            fields = f.readline().split()
    except OSError:
        return None
    return [int(x) for x in fields[1:]] if fields and fields[0] == "cpu" else None


def steal_percent(before, after):
    """Steal as a percentage of all CPU time between two cpu_times() readings (None if unknown):
    100 * d(steal) / d(user + nice + system + idle + iowait + irq + softirq + steal)."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    delta = [a - b for a, b in zip(after[:8], before[:8])]
    total = sum(delta)
    return round(100.0 * delta[7] / total, 1) if total > 0 else None
