"""Kernels: kernel sessions, the kernel host that relays between the platform and a sandboxed kernel process."""
