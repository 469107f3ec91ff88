// Runs before each test file: kafkajs must load with the read_committed fix in place.
import '../../src/kafka/kafkajs-fixes.js';
