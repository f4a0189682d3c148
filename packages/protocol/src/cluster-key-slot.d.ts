// cluster-key-slot (ioredis's own CRC16 for Redis Cluster slots) ships no types.
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
