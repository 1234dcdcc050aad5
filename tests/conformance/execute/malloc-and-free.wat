;; Allocates 1 MiB from the host allocator, writes to it, frees it; returns the pointer the
;; allocator chose as hrmp_watermark (the allocator's placement is part of the semantics).
(module
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (local $p i32)
    (local.set $p (call $malloc (i32.const 1048576)))
    (i32.store (local.get $p) (i32.const 42))
    (call $free (local.get $p))
    (i32.store (i32.const 264) (local.get $p))
    (i64.const 0xc00000100)))
