//! Fargate's task sizes: which memory values (MiB) each CPU size (units,
//! 1024 = one vCPU) takes, and how to say so in a diagnostic.

/// The CPU sizes of a Fargate task, in CPU units.
pub const CPU_UNITS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// The memory values Fargate accepts with `cpu`, as `(first, last, step)`;
/// `None` when `cpu` is not a Fargate size. 256 units take 512, 1024 or
/// 2048, which is no even step: [`fits`] treats it specially.
fn memory_range(cpu: u32) -> Option<(u32, u32, u32)> {
    match cpu {
        256 => Some((512, 2048, 512)),
        512 => Some((1024, 4096, 1024)),
        1024 => Some((2048, 8192, 1024)),
        2048 => Some((4096, 16_384, 1024)),
        4096 => Some((8192, 30_720, 1024)),
        8192 => Some((16_384, 61_440, 4096)),
        16_384 => Some((32_768, 122_880, 8192)),
        _ => None,
    }
}

/// True when Fargate runs a task of `cpu` units with `memory` MiB.
pub fn fits(cpu: u32, memory: u32) -> bool {
    if cpu == 256 {
        return matches!(memory, 512 | 1024 | 2048);
    }
    memory_range(cpu).is_some_and(|(first, last, step)| {
        (first..=last).contains(&memory) && (memory - first).is_multiple_of(step)
    })
}

/// The memory values that fit `cpu`, in words: `512, 1024 or 2048`, or
/// `2048 to 8192 in steps of 1024`.
pub fn memory_choices(cpu: u32) -> String {
    match memory_range(cpu) {
        _ if cpu == 256 => "512, 1024 or 2048".to_owned(),
        Some((first, last, step)) => format!("{first} to {last} in steps of {step}"),
        None => String::new(),
    }
}

/// The CPU sizes that take `memory` MiB.
pub fn cpus_for(memory: u32) -> Vec<u32> {
    CPU_UNITS
        .into_iter()
        .filter(|cpu| fits(*cpu, memory))
        .collect()
}

/// `a`, `a or b`, `a, b or c`: a list for a help line, each in backticks.
pub fn either(values: &[u32]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_combinations() {
        for (cpu, memory) in [
            (256, 512),
            (256, 2048),
            (512, 1024),
            (512, 4096),
            (1024, 2048),
            (1024, 8192),
            (2048, 16_384),
            (4096, 30_720),
            (8192, 61_440),
            (16_384, 122_880),
        ] {
            assert!(fits(cpu, memory), "{cpu}/{memory}");
        }
        for (cpu, memory) in [
            (256, 1536),
            (256, 4096),
            (512, 512),
            (512, 1536),
            (1024, 1024),
            (8192, 17_408),
            (300, 512),
            (16_384, 131_072),
        ] {
            assert!(!fits(cpu, memory), "{cpu}/{memory}");
        }
    }

    #[test]
    fn describes_the_memory_of_each_size() {
        assert_eq!(memory_choices(256), "512, 1024 or 2048");
        assert_eq!(memory_choices(1024), "2048 to 8192 in steps of 1024");
        assert_eq!(memory_choices(300), "");
    }

    #[test]
    fn finds_the_cpu_sizes_of_a_memory_value() {
        assert_eq!(cpus_for(2048), [256, 512, 1024]);
        assert_eq!(cpus_for(1000), [] as [u32; 0]);
        assert_eq!(either(&[256, 512, 1024]), "`256`, `512` or `1024`");
        assert_eq!(either(&[4096]), "`4096`");
    }
}
