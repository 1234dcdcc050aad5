;; A code upgrade larger than any reply but the PVF's result: `validate_block` returns a SCALE
;; `ValidationResult` with head "big!", new validation code of 3,000,003 bytes of 0x42, no
;; messages and zero counters. Chains accept new code up to `max_code_size` (several MiB), and
;; the reference carries any result back from its worker, so this candidate is valid
;; (tests/tests/it/candidate_validation.rs).
;;
;; Layout (N = 3000003): 0x10 "big!" | 0x01 compact(N) in 4-byte mode | N bytes | 0x00 0x00 |
;; u32 0 | u32 0, so N + 20 bytes in all.
(module
  (import "env" "memory" (memory 17))
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (global (export "__heap_base") i32 (i32.const 1048576))
  (func (export "validate_block") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $total i32) (local $out i32) (local $at i32) (local $end i32)
    (local.set $n (i32.const 3000003))
    (local.set $total (i32.add (local.get $n) (i32.const 20)))
    (local.set $out (call $malloc (local.get $total)))
    (i32.store8 (local.get $out) (i32.const 0x10))
    (i32.store (i32.add (local.get $out) (i32.const 1)) (i32.const 0x21676962))
    (i32.store8 (i32.add (local.get $out) (i32.const 5)) (i32.const 1))
    (i32.store (i32.add (local.get $out) (i32.const 6))
      (i32.or (i32.shl (local.get $n) (i32.const 2)) (i32.const 2)))
    ;; Byte by byte: `memory.fill` is bulk memory, which PVFs may not use by default.
    (local.set $at (i32.add (local.get $out) (i32.const 10)))
    (local.set $end (i32.add (local.get $at) (local.get $n)))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (i32.store8 (local.get $at) (i32.const 0x42))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $fill)))
    (i64.store (local.get $end) (i64.const 0))
    (i32.store16 (i32.add (local.get $end) (i32.const 8)) (i32.const 0))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $total)) (i64.const 32))
      (i64.extend_i32_u (local.get $out)))))
