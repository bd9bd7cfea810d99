/**
 * A deterministic demo catalog: the same products, SKUs and prices on every machine and every
 * run, so that demo stock, benchmarks and screenshots line up. Pure data, no I/O.
 */
import { seededRandom } from '@agora/platform';

interface VariantOption {
  label: string;
  /** Part of the SKU; unique within its axis. */
  code: string;
  /** Added to the product's base price, in minor units. */
  delta: number;
}

interface CategoryTemplate {
  slug: string;
  /** SKU prefix. */
  code: string;
  brands: readonly string[];
  adjectives: readonly string[];
  /** Product types with a plausible base price range in cents. */
  items: readonly { noun: string; min: number; max: number }[];
  features: readonly string[];
  /** Ways the variants of one product differ. */
  axes: readonly (readonly VariantOption[])[];
}

const o = (label: string, code: string, delta = 0): VariantOption => ({ label, code, delta });

const COLOURS = [o('Black', 'BLK'), o('White', 'WHT'), o('Navy', 'NVY'), o('Grey', 'GRY'), o('Red', 'RED'), o('Forest Green', 'GRN')];
const APPAREL_SIZES = [o('Small', 'S'), o('Medium', 'M'), o('Large', 'L'), o('X-Large', 'XL', 200)];
const PACKS = [o('Single', '1PK'), o('Pack of 2', '2PK', 0), o('Pack of 4', '4PK', 0)];

const TEMPLATES: readonly CategoryTemplate[] = [
  {
    slug: 'electronics',
    code: 'ELEC',
    brands: ['Voltra', 'Nimbus', 'Auralis', 'Kestrel', 'Lumen', 'Orbit'],
    adjectives: ['Wireless', 'Portable', 'Smart', 'Compact', 'Noise-Cancelling', 'Ultra-Slim', 'Rechargeable', 'HD'],
    items: [
      { noun: 'Headphones', min: 2999, max: 29999 },
      { noun: 'Bluetooth Speaker', min: 1999, max: 19999 },
      { noun: 'Power Bank', min: 1499, max: 7999 },
      { noun: 'Webcam', min: 2499, max: 12999 },
      { noun: 'Mechanical Keyboard', min: 4999, max: 17999 },
      { noun: 'Gaming Mouse', min: 1999, max: 8999 },
      { noun: 'USB-C Hub', min: 1999, max: 6999 },
      { noun: 'Fitness Tracker', min: 3999, max: 19999 },
      { noun: 'Earbuds', min: 2499, max: 24999 },
      { noun: 'Monitor Light Bar', min: 2999, max: 9999 },
    ],
    features: [
      'Up to 30 hours of battery life on a single charge',
      'Pairs in seconds over Bluetooth 5.3',
      'Fast charging over USB-C',
      'Built-in microphone for clear calls',
      'Aluminium body that stays cool under load',
      'Works with Windows, macOS, Linux, Android and iOS',
    ],
    axes: [COLOURS, [o('Standard', 'STD'), o('Pro', 'PRO', 3000), o('Max', 'MAX', 6000)]],
  },
  {
    slug: 'books',
    code: 'BOOK',
    brands: ['Harbor Press', 'Quill & Lantern', 'Northwind Books', 'Meridian', 'Cobalt House', 'Little Fern'],
    adjectives: ['Illustrated', 'Complete', 'Practical', 'Essential', 'Modern', 'Collected', 'Pocket', 'Annotated'],
    items: [
      { noun: 'Guide to Sourdough Baking', min: 1299, max: 3499 },
      { noun: 'History of the Silk Road', min: 1499, max: 3999 },
      { noun: 'Introduction to Astronomy', min: 1599, max: 4499 },
      { noun: 'Mystery Novel Collection', min: 999, max: 2999 },
      { noun: 'Handbook of Houseplants', min: 1299, max: 2999 },
      { noun: 'Course in Distributed Systems', min: 2999, max: 6999 },
      { noun: 'Atlas of Mountain Trails', min: 1999, max: 4999 },
      { noun: 'Poetry Anthology', min: 899, max: 2499 },
      { noun: 'Cookbook of Mediterranean Cooking', min: 1999, max: 3999 },
    ],
    features: [
      'Written for curious beginners and seasoned readers alike',
      'Over 300 pages with full-colour photographs',
      'Includes an index and a glossary of terms',
      'A bestseller translated into 20 languages',
      'Printed on acid-free, responsibly sourced paper',
    ],
    axes: [[o('Paperback', 'PB'), o('Hardcover', 'HC', 1000), o('E-book', 'EB', -500)]],
  },
  {
    slug: 'home-kitchen',
    code: 'HOME',
    brands: ['Hearthstone', 'Copperleaf', 'Maison Claire', 'Oakridge', 'Saltwell', 'Pantry & Co'],
    adjectives: ['Stainless Steel', 'Non-Stick', 'Cast Iron', 'Ceramic', 'Bamboo', 'Glass', 'Enamelled', 'Insulated'],
    items: [
      { noun: 'Frying Pan', min: 2499, max: 8999 },
      { noun: 'Dutch Oven', min: 4999, max: 19999 },
      { noun: 'Chef Knife', min: 2999, max: 14999 },
      { noun: 'Cutting Board', min: 1499, max: 4999 },
      { noun: 'French Press', min: 1999, max: 5999 },
      { noun: 'Mixing Bowl Set', min: 1999, max: 4999 },
      { noun: 'Water Bottle', min: 1299, max: 3999 },
      { noun: 'Food Storage Set', min: 1999, max: 5999 },
      { noun: 'Tea Kettle', min: 2499, max: 7999 },
    ],
    features: [
      'Dishwasher safe for easy cleaning',
      'Works on gas, electric and induction hobs',
      'Oven safe up to 260 °C',
      'Free of PFOA, lead and cadmium',
      'Backed by a lifetime warranty',
    ],
    axes: [[o('Small', 'SM'), o('Medium', 'MD', 1000), o('Large', 'LG', 2000)], COLOURS],
  },
  {
    slug: 'toys',
    code: 'TOYS',
    brands: ['Pebble & Pine', 'Brightbox', 'Tumbleweed', 'Kiddo Lab', 'Starlark', 'Wobble'],
    adjectives: ['Wooden', 'Magnetic', 'Educational', 'Glow-in-the-Dark', 'Remote-Control', 'Plush', 'Stackable', 'Musical'],
    items: [
      { noun: 'Building Blocks', min: 1499, max: 5999 },
      { noun: 'Puzzle', min: 999, max: 2999 },
      { noun: 'Train Set', min: 2999, max: 9999 },
      { noun: 'Teddy Bear', min: 1299, max: 3999 },
      { noun: 'Science Kit', min: 1999, max: 5999 },
      { noun: 'Race Car', min: 1999, max: 6999 },
      { noun: 'Board Game', min: 1499, max: 4999 },
      { noun: 'Art Set', min: 1299, max: 3999 },
    ],
    features: [
      'Suitable for ages 3 and up',
      'Made from non-toxic, child-safe materials',
      'Encourages creativity and problem solving',
      'Batteries included where needed',
      'Comes in a sturdy storage box',
    ],
    axes: [[o('Classic', 'CLS'), o('Deluxe', 'DLX', 1500)], [o('Blue', 'BLU'), o('Pink', 'PNK'), o('Yellow', 'YLW')]],
  },
  {
    slug: 'sports',
    code: 'SPRT',
    brands: ['Summit', 'Stridewell', 'Apex Motion', 'Trailhead', 'Riptide', 'Corecraft'],
    adjectives: ['Lightweight', 'Adjustable', 'Waterproof', 'Foldable', 'Non-Slip', 'Breathable', 'Heavy-Duty', 'Ergonomic'],
    items: [
      { noun: 'Yoga Mat', min: 1999, max: 7999 },
      { noun: 'Dumbbell Set', min: 2999, max: 14999 },
      { noun: 'Running Backpack', min: 3499, max: 9999 },
      { noun: 'Tennis Racket', min: 3999, max: 19999 },
      { noun: 'Cycling Helmet', min: 3999, max: 14999 },
      { noun: 'Jump Rope', min: 799, max: 2499 },
      { noun: 'Camping Tent', min: 7999, max: 29999 },
      { noun: 'Football', min: 1499, max: 4999 },
    ],
    features: [
      'Tested by athletes in training and competition',
      'Packs down small for travel',
      'Grippy surface that stays put when wet',
      'Reinforced stitching at every stress point',
      'Easy to wipe clean after a session',
    ],
    axes: [APPAREL_SIZES, COLOURS],
  },
  {
    slug: 'fashion',
    code: 'FASH',
    brands: ['Linden & Rowe', 'Atelier Nord', 'Cotton Field', 'Marlowe', 'Indigo Road', 'Wren'],
    adjectives: ['Organic Cotton', 'Merino Wool', 'Linen', 'Slim-Fit', 'Relaxed', 'Recycled', 'Classic', 'Quilted'],
    items: [
      { noun: 'T-Shirt', min: 1499, max: 3999 },
      { noun: 'Hoodie', min: 3999, max: 8999 },
      { noun: 'Denim Jacket', min: 5999, max: 14999 },
      { noun: 'Chinos', min: 3999, max: 8999 },
      { noun: 'Sweater', min: 4999, max: 12999 },
      { noun: 'Rain Coat', min: 7999, max: 19999 },
      { noun: 'Sneakers', min: 4999, max: 14999 },
      { noun: 'Scarf', min: 1999, max: 5999 },
    ],
    features: [
      'Cut for an easy, everyday fit',
      'Pre-washed so it will not shrink',
      'Ethically made in certified factories',
      'Soft against the skin, warm without bulk',
      'Machine washable at 30 °C',
    ],
    axes: [APPAREL_SIZES, COLOURS],
  },
  {
    slug: 'beauty',
    code: 'BEAU',
    brands: ['Petal & Stone', 'Lumiere', 'Verdant', 'Glowworks', 'Aloe Bay', 'Rosehip Lane'],
    adjectives: ['Hydrating', 'Fragrance-Free', 'Vegan', 'Brightening', 'Nourishing', 'Gentle', 'Mineral', 'Overnight'],
    items: [
      { noun: 'Face Moisturiser', min: 1299, max: 4999 },
      { noun: 'Cleansing Balm', min: 1499, max: 3999 },
      { noun: 'Lip Balm', min: 499, max: 1499 },
      { noun: 'Sunscreen SPF 50', min: 1199, max: 2999 },
      { noun: 'Shampoo', min: 899, max: 2999 },
      { noun: 'Body Lotion', min: 999, max: 2999 },
      { noun: 'Hand Cream', min: 699, max: 1999 },
      { noun: 'Face Serum', min: 1999, max: 5999 },
    ],
    features: [
      'Dermatologist tested for sensitive skin',
      'Made with aloe vera and shea butter',
      'Cruelty-free and never tested on animals',
      'Absorbs quickly without a greasy feel',
      'In a recyclable glass bottle',
    ],
    axes: [[o('Travel Size', 'TRV', -400), o('Regular', 'REG'), o('Value Size', 'VAL', 800)]],
  },
  {
    slug: 'garden',
    code: 'GRDN',
    brands: ['Greenhaven', 'Mossgate', 'Sunbed', 'Rootstock', 'Willow Way', 'Fieldcraft'],
    adjectives: ['Galvanised', 'Cordless', 'Weatherproof', 'Solar', 'Telescopic', 'Raised', 'Self-Watering', 'Folding'],
    items: [
      { noun: 'Garden Hose', min: 2499, max: 6999 },
      { noun: 'Pruning Shears', min: 1499, max: 4999 },
      { noun: 'Planter Box', min: 2999, max: 9999 },
      { noun: 'Lawn Mower', min: 14999, max: 49999 },
      { noun: 'Watering Can', min: 1299, max: 3999 },
      { noun: 'Path Lights', min: 1999, max: 5999 },
      { noun: 'Compost Bin', min: 3999, max: 11999 },
      { noun: 'Garden Kneeler', min: 1999, max: 4999 },
    ],
    features: [
      'Rust-resistant for years outdoors',
      'Tool-free assembly in minutes',
      'UV-stabilised so colours do not fade',
      'Keeps soil moist for up to two weeks',
      'Charges in the sun and lights up at dusk',
    ],
    axes: [[o('Small', 'SM'), o('Medium', 'MD', 1500), o('Large', 'LG', 3000)], [o('Terracotta', 'TER'), o('Slate', 'SLT'), o('Sage', 'SGE')]],
  },
  {
    slug: 'grocery',
    code: 'GROC',
    brands: ['Good Harvest', 'Millstone', 'Blue Orchard', 'Honeyfield', 'Kettle Creek', 'Olive Grove'],
    adjectives: ['Organic', 'Single-Origin', 'Cold-Pressed', 'Whole Grain', 'Raw', 'Smoked', 'Stone-Ground', 'Fair Trade'],
    items: [
      { noun: 'Coffee Beans', min: 1099, max: 2499 },
      { noun: 'Extra Virgin Olive Oil', min: 999, max: 2999 },
      { noun: 'Wildflower Honey', min: 799, max: 1999 },
      { noun: 'Green Tea', min: 599, max: 1799 },
      { noun: 'Dark Chocolate Bar', min: 299, max: 899 },
      { noun: 'Rolled Oats', min: 399, max: 999 },
      { noun: 'Pasta', min: 299, max: 899 },
      { noun: 'Sea Salt', min: 399, max: 1199 },
    ],
    features: [
      'Sourced directly from small family farms',
      'No added sugar, colours or preservatives',
      'Packed in a resealable bag to keep it fresh',
      'Certified organic and non-GMO',
      'Rich, balanced flavour for every day',
    ],
    axes: [[o('250 g', '250G'), o('500 g', '500G', 600), o('1 kg', '1KG', 1400)], PACKS],
  },
  {
    slug: 'automotive',
    code: 'AUTO',
    brands: ['Roadmaster', 'Torque & Co', 'Highline', 'Piston', 'Gearbox', 'Northstar'],
    adjectives: ['Heavy-Duty', 'Universal', 'Magnetic', 'Digital', 'Compact', 'Premium', 'All-Weather', 'Quick-Release'],
    items: [
      { noun: 'Phone Mount', min: 1499, max: 3999 },
      { noun: 'Tyre Inflator', min: 2999, max: 8999 },
      { noun: 'Jump Starter', min: 4999, max: 14999 },
      { noun: 'Dash Camera', min: 3999, max: 14999 },
      { noun: 'Floor Mats', min: 2999, max: 8999 },
      { noun: 'Car Vacuum', min: 2499, max: 7999 },
      { noun: 'Wiper Blades', min: 1299, max: 3999 },
      { noun: 'Seat Organiser', min: 1499, max: 3999 },
    ],
    features: [
      'Fits most cars, SUVs and vans',
      'Installs in under five minutes without tools',
      'Plugs into any 12 V socket',
      'Built to handle heat, frost and vibration',
      'Includes a two-year warranty',
    ],
    axes: [[o('Standard', 'STD'), o('Plus', 'PLS', 1500)], [o('Black', 'BLK'), o('Grey', 'GRY'), o('Beige', 'BGE')]],
  },
  {
    slug: 'office',
    code: 'OFFC',
    brands: ['Deskwell', 'Paperline', 'Inkwell', 'Brightdesk', 'Ledger', 'Studio Nine'],
    adjectives: ['Ergonomic', 'Refillable', 'Recycled', 'Adjustable', 'Dot-Grid', 'Magnetic', 'Stackable', 'Minimalist'],
    items: [
      { noun: 'Notebook', min: 799, max: 2499 },
      { noun: 'Fountain Pen', min: 1999, max: 9999 },
      { noun: 'Desk Organiser', min: 1499, max: 4999 },
      { noun: 'Monitor Stand', min: 2999, max: 8999 },
      { noun: 'Office Chair Cushion', min: 2499, max: 5999 },
      { noun: 'Desk Lamp', min: 2499, max: 7999 },
      { noun: 'Whiteboard', min: 1999, max: 6999 },
      { noun: 'Gel Pen Set', min: 699, max: 1999 },
    ],
    features: [
      'Designed for long days at the desk',
      'Smooth, smudge-free writing',
      'Keeps cables and clutter out of the way',
      'Made from recycled materials',
      'Fits neatly in a bag or drawer',
    ],
    axes: [[o('A5', 'A5'), o('A4', 'A4', 300)], COLOURS],
  },
  {
    slug: 'pets',
    code: 'PETS',
    brands: ['Happy Paws', 'Whisker & Tail', 'Barkley', 'Purrfect', 'Fetch Co', 'Meadow Pet'],
    adjectives: ['Chew-Resistant', 'Orthopedic', 'Grain-Free', 'Reflective', 'Washable', 'Interactive', 'Calming', 'Automatic'],
    items: [
      { noun: 'Dog Bed', min: 2999, max: 9999 },
      { noun: 'Cat Scratching Post', min: 1999, max: 6999 },
      { noun: 'Dog Leash', min: 999, max: 2999 },
      { noun: 'Dog Food', min: 1999, max: 5999 },
      { noun: 'Cat Toy Set', min: 799, max: 2499 },
      { noun: 'Pet Water Fountain', min: 2499, max: 5999 },
      { noun: 'Dog Harness', min: 1499, max: 4499 },
      { noun: 'Litter Box', min: 1999, max: 7999 },
    ],
    features: [
      'Vet-approved design',
      'Easy to clean: the cover comes off and goes in the wash',
      'Keeps pets busy and happy for hours',
      'Made with natural, high-protein ingredients',
      'Stays put on hard floors',
    ],
    axes: [[o('Small', 'S'), o('Medium', 'M', 800), o('Large', 'L', 1600)], [o('Brown', 'BRN'), o('Grey', 'GRY'), o('Blue', 'BLU')]],
  },
  {
    slug: 'health',
    code: 'HLTH',
    brands: ['Vitalis', 'Pure Form', 'Bloom Health', 'Everwell', 'Nordic Leaf', 'Clearpath'],
    adjectives: ['Daily', 'Plant-Based', 'Sugar-Free', 'Digital', 'Travel', 'Extra-Strength', 'Gentle', 'Sleep'],
    items: [
      { noun: 'Multivitamin', min: 999, max: 3499 },
      { noun: 'Protein Powder', min: 2499, max: 5999 },
      { noun: 'Thermometer', min: 1299, max: 3999 },
      { noun: 'Massage Gun', min: 5999, max: 19999 },
      { noun: 'First Aid Kit', min: 1499, max: 4999 },
      { noun: 'Electric Toothbrush', min: 2999, max: 12999 },
      { noun: 'Blood Pressure Monitor', min: 2999, max: 8999 },
    ],
    features: [
      'Third-party tested for purity',
      'Easy-to-read display',
      'Made in a GMP-certified facility',
      'Compact enough for a travel bag',
      'Gentle enough for every day',
    ],
    axes: [[o('30 Servings', '30'), o('60 Servings', '60', 1200), o('90 Servings', '90', 2200)], [o('White', 'WHT'), o('Mint', 'MNT')]],
  },
  {
    slug: 'baby',
    code: 'BABY',
    brands: ['Little Sprout', 'Cuddle Cove', 'Tiny Steps', 'Nestling', 'Moonbeam', 'Babybird'],
    adjectives: ['Organic', 'Soft', 'Foldable', 'Hypoallergenic', 'Breathable', 'Convertible', 'Lightweight', 'Muslin'],
    items: [
      { noun: 'Swaddle Blanket', min: 1499, max: 3999 },
      { noun: 'Baby Carrier', min: 4999, max: 14999 },
      { noun: 'Bottle Set', min: 1499, max: 3999 },
      { noun: 'Play Mat', min: 2999, max: 8999 },
      { noun: 'Bib Set', min: 999, max: 2499 },
      { noun: 'Romper', min: 1299, max: 2999 },
      { noun: 'Changing Bag', min: 3999, max: 9999 },
    ],
    features: [
      'Gentle on delicate skin',
      'Free of BPA and phthalates',
      'Machine washable and quick to dry',
      'Grows with your baby from newborn to toddler',
      'Loved by parents for everyday use',
    ],
    axes: [[o('0-3 Months', '03M'), o('3-6 Months', '36M'), o('6-12 Months', '612M', 200)], [o('Oat', 'OAT'), o('Sage', 'SGE'), o('Blush', 'BLS')]],
  },
];

export const DEMO_CATEGORIES: readonly string[] = TEMPLATES.map((t) => t.slug);

export const DEMO_CURRENCY = 'USD';

export interface DemoVariant {
  sku: string;
  title: string;
  price: { amount: number; currency: string };
}

export interface DemoProduct {
  name: string;
  description: string;
  category: string;
  variants: DemoVariant[];
}

function pick<T>(random: () => number, list: readonly T[]): T {
  const item = list[Math.floor(random() * list.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Prices end in 99 cents, like a shop's do. */
function shopPrice(cents: number): number {
  return Math.max(99, Math.round(cents / 100) * 100 - 1);
}

const SERIES = ['', '', '', ' Mini', ' Pro', ' 2', ' Plus', ' Lite', ' Max', ' Go'];

/** The `index`-th product of the demo catalog (0-based); the same index always gives the same product. */
export function demoProduct(index: number): DemoProduct {
  const template = TEMPLATES[index % TEMPLATES.length];
  if (!template) throw new Error('no demo templates');
  // Seeded (mulberry32): the demo must be identical on every run.
  const random = seededRandom(0x5eed + index * 7919);
  const brand = pick(random, template.brands);
  const adjective = pick(random, template.adjectives);
  const item = pick(random, template.items);
  const series = template.slug === 'books' || template.slug === 'grocery' ? '' : pick(random, SERIES);
  const name = template.slug === 'books' ? `The ${adjective} ${item.noun} (${brand})` : `${brand} ${adjective} ${item.noun}${series}`;
  const first = pick(random, template.features);
  const second = pick(random, template.features.filter((f) => f !== first));
  const description = `${adjective} ${item.noun.toLowerCase()} by ${brand}. ${first}. ${second}.`;
  const base = shopPrice(item.min + random() * (item.max - item.min));
  const axis = pick(random, template.axes);
  const count = Math.min(axis.length, 1 + Math.floor(random() * 3));
  const start = Math.floor(random() * (axis.length - count + 1));
  const number = String(index + 1).padStart(5, '0');
  const variants = axis.slice(start, start + count).map((option) => ({
    sku: `${template.code}-${number}-${option.code}`,
    title: option.label,
    price: { amount: Math.max(99, base + option.delta), currency: DEMO_CURRENCY },
  }));
  return { name, description, category: template.slug, variants };
}

export function demoProducts(count: number): DemoProduct[] {
  return Array.from({ length: count }, (_, i) => demoProduct(i));
}
