;; Hashes "abc" with the blake2_256 host function and returns the hash as head data.
(module
  (import "env" "ext_hashing_blake2_256_version_1" (func $blake2 (param i64) (result i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 1024) "abc")
  (func (export "validate_block") (param i32 i32) (result i64)
    (local $h i32) (local $i i32)
    (local.set $h (call $blake2 (i64.const 0x300000400)))
    (i32.store8 (i32.const 256) (i32.const 0x80))
    (loop $copy
      (i32.store8 offset=257 (local.get $i) (i32.load8_u (i32.add (local.get $h) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $i) (i32.const 32))))
    ;; bytes 289..300 are zero: the rest of an empty result
    (i64.const 0x2c00000100)))
