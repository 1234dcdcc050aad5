;; Echoes its input: `validate_block(ptr, len)` returns a SCALE `ValidationResult` whose
;; `head_data` is exactly the `len` bytes at `ptr` (the encoded `ValidationParams` plus any
;; extension the host appended), with no code upgrade, no messages, and zero counters. Tests
;; read back what a PVF really receives (tests/tests/it/params_extension.rs).
;;
;; The head's length prefix is a canonical SCALE compact: parity-scale-codec rejects a longer
;; mode than the value needs, so 1 byte below 64, 2 below 2^14, 4 below 2^30.
(module
  (import "env" "memory" (memory 17))
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (global (export "__heap_base") i32 (i32.const 1048576))
  (func (export "validate_block") (param $ptr i32) (param $len i32) (result i64)
    (local $prefix i32) (local $total i32) (local $out i32) (local $at i32) (local $i i32)
    (local.set $prefix
      (if (result i32) (i32.lt_u (local.get $len) (i32.const 64))
        (then (i32.const 1))
        (else
          (if (result i32) (i32.lt_u (local.get $len) (i32.const 16384))
            (then (i32.const 2))
            (else (i32.const 4))))))
    ;; prefix, head bytes, then 11 bytes: None (code), 0 (upward), 0 (horizontal), two u32 zeros.
    (local.set $total
      (i32.add (i32.add (local.get $prefix) (local.get $len)) (i32.const 11)))
    (local.set $out (call $malloc (local.get $total)))
    (if (i32.eq (local.get $prefix) (i32.const 1))
      (then
        (i32.store8 (local.get $out) (i32.shl (local.get $len) (i32.const 2))))
      (else
        (if (i32.eq (local.get $prefix) (i32.const 2))
          (then
            (i32.store16 (local.get $out)
              (i32.or (i32.shl (local.get $len) (i32.const 2)) (i32.const 1))))
          (else
            (i32.store (local.get $out)
              (i32.or (i32.shl (local.get $len) (i32.const 2)) (i32.const 2)))))))
    ;; Byte by byte: `memory.copy` is bulk memory, which PVFs may not use by default.
    (local.set $at (i32.add (local.get $out) (local.get $prefix)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8
          (i32.add (local.get $at) (local.get $i))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (local.set $at (i32.add (local.get $at) (local.get $len)))
    (i64.store (local.get $at) (i64.const 0))
    (i32.store16 (i32.add (local.get $at) (i32.const 8)) (i32.const 0))
    (i32.store8 (i32.add (local.get $at) (i32.const 10)) (i32.const 0))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $total)) (i64.const 32))
      (i64.extend_i32_u (local.get $out)))))
