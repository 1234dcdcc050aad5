;; A minimal PVF owned by this project. It imports its memory like a Cumulus runtime, imports
;; host functions it uses (allocator, logging) and one it never calls (storage), and echoes its
;; input from `validate_block`, returning (len << 32) | ptr.
(module
  (import "env" "memory" (memory 17))
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
  (import "env" "ext_logging_log_version_1" (func $log (param i32 i64 i64)))
  (import "env" "ext_storage_get_version_1" (func $storage_get (param i64) (result i64)))
  (global (export "__heap_base") i32 (i32.const 1048576))
  (func (export "validate_block") (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
      (i64.extend_i32_u (local.get $ptr)))))
