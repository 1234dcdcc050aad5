;; Compiles, but imports a host function of the PVF set with the wrong signature
;; (blake2_256 takes a fat pointer, i64): pre-checking must fail with RuntimeConstruction.
(module
  (import "env" "memory" (memory 17))
  (import "env" "ext_hashing_blake2_256_version_1" (func $blake2 (param i32) (result i32)))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i64.const 0)))
