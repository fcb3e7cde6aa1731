// BROKEN on purpose: the legacy route never checks watermark.appid, so data encrypted for another app (another appid in the watermark) is accepted as this app's phone number (spec §7.7, as WxJava, easywechat and node-easywechat do).
import { start } from '../reference.mjs';

await start({ checkWatermark: false });
