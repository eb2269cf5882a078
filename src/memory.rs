//! The process's allocator settings.

/// Tells glibc's allocator to keep freed memory for reuse. By default it hands memory back
/// to the OS as soon as 128 KiB sit free at the top of the heap (and maps every allocation
/// over 128 KiB on its own); a scan frees and allocates per-batch buffers all the time, so
/// each batch paid page faults, page clearing and unmaps with TLB shootdowns — 38 % of a
/// full-scan aggregate's time was in the kernel (benches/README). With these settings the
/// benchmark's S6 ran 35 % faster and S7 22 %. The price: up to 512 MiB freed memory stays
/// in the process (its RSS) until reused. Call once, first thing in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
