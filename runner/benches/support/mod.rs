//! What both benches share: timing runs, running `strata` as a whole
//! process with its peak memory, reporting medians and the 90th percentile,
//! and naming the machine.

#![allow(
    dead_code,
    reason = "each bench includes this module and uses its own part of it"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `runs` timed calls of `f` after `warmup` untimed ones.
pub fn measure(runs: usize, warmup: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..warmup {
        f();
    }
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect()
}

/// One line: the name, the median and the 90th percentile, the runs.
pub fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<52} {:>10} {:>10} {:>7}",
        show(at(0.5)),
        show(at(0.9)),
        times.len()
    );
}

/// One line for whole-process runs: the median and 90th-percentile wall
/// time, the median CPU time (user + system) and the largest peak memory.
pub fn report_process(name: &str, runs: &[Run]) {
    let mut times: Vec<Duration> = runs.iter().map(|r| r.elapsed).collect();
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.cpu).collect();
    times.sort();
    cpu.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let peak = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
    println!(
        "{name:<52} {:>10} {:>10} {:>7}   CPU {} peak RSS {} MiB",
        show(at(0.5)),
        show(at(0.9)),
        times.len(),
        show(cpu[cpu.len() / 2]),
        peak / 1024
    );
}

/// A duration in µs or ms.
pub fn show(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

/// Cores and CPU model.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {cpu}")
}

/// One finished run of `strata`, as a whole process.
pub struct Run {
    pub elapsed: Duration,
    /// User and system CPU time: steadier than wall time on a shared machine.
    pub cpu: Duration,
    /// Peak resident memory, in KiB.
    pub max_rss_kib: u64,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run `command` to the end, its output captured, with its peak memory.
pub fn run(mut command: Command) -> Run {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("start strata");
    let pid = child.id();
    let (stdout, stderr) = drain(child);
    let (success, max_rss_kib, cpu) = wait(pid);
    Run {
        elapsed: started.elapsed(),
        cpu,
        max_rss_kib,
        success,
        stdout,
        stderr,
    }
}

/// Read both pipes to the end (on threads, so neither fills and blocks).
fn drain(mut child: Child) -> (String, String) {
    use std::io::Read as _;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let mut stdout = String::new();
    let _ = out.read_to_string(&mut stdout);
    let stderr = reader.join().unwrap_or_default();
    // Dropping the handle neither kills nor reaps: `wait` reaps by pid.
    drop(child);
    (stdout, stderr)
}

/// Reap `pid`: whether it exited 0, its peak resident memory in KiB, and the
/// CPU time it used.
#[expect(
    unsafe_code,
    reason = "wait4 is the one call that reports a child's own peak memory; libc has no safe wrapper"
)]
fn wait(pid: u32) -> (bool, u64, Duration) {
    let mut status: libc::c_int = 0;
    // SAFETY: both pointers are to live locals of the right types, and the
    // pid is our own child, not yet reaped (`drain` dropped its handle).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as libc::pid_t, "wait4 failed");
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let seconds = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    (
        success,
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
    )
}
