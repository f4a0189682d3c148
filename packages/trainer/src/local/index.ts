export { OuterNesterov } from './outer-nesterov';
export { type ReplicaResult, ReplicaRunner, type ReplicaTask } from './replica';
export { type LocalRoundSource, localRoundSource } from './round-source';
