// A library that one test module links against and the loader never finds.
__attribute__((visibility("default"))) int MhaTestDependency() { return 0; }
