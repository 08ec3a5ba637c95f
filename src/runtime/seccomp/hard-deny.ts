/**
 * Syscalls bkg denies in every sandbox, whatever the profile says: they are checked before the
 * profile's rules, so a user profile cannot re-allow them. All fail with EPERM unless noted.
 */

/** Kernel attack surface, host-wide state, mounts, tracing and keyrings. */
export const HARD_DENIED_SYSCALLS: readonly string[] = [
  // io_uring bypasses seccomp for the operations it performs
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  // kernel code, modules and introspection
  'bpf',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'get_kernel_syms',
  'query_module',
  'perf_event_open',
  'lookup_dcookie',
  'syslog',
  'userfaultfd',
  'uselib',
  '_sysctl',
  'nfsservctl',
  // keyrings are not namespaced
  'keyctl',
  'add_key',
  'request_key',
  // other processes' memory
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  // mounts (including the new mount API; fsconfig and open_tree_attr belong with it)
  'mount',
  'umount2',
  'pivot_root',
  'mount_setattr',
  'move_mount',
  'open_tree',
  'open_tree_attr',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  // host devices, clocks and power
  'swapon',
  'swapoff',
  'reboot',
  'acct',
  'quotactl',
  'iopl',
  'ioperm',
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'vhangup',
  // file handles escape a chroot / mount namespace
  'open_by_handle_at',
  'name_to_handle_at',
  'fanotify_init',
];

/** Denied (EPERM) unless nested namespaces are allowed, in which case the profile decides. */
export const NAMESPACE_SYSCALLS: readonly string[] = ['unshare', 'setns'];

/**
 * clone flags that create namespaces: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
 * and NEWTIME. All live in the low 32 bits, the only bits clone(2) reads (bit 0x80 is also in
 * clone's exit-signal byte, where no valid signal sets it).
 */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;
