import { Suspense, lazy, type ComponentType, type ReactNode } from 'react';
import { matchPath, type Params } from '../match';
import { NavLink, useLocation } from '../router';
import { Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';

type PageProps = { params: Params };

function page<K extends string>(load: () => Promise<Record<K, ComponentType<PageProps>>>, name: K) {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}

const Products = page(() => import('./Products'), 'AdminProductsPage');
const ProductEdit = page(() => import('./ProductForm'), 'AdminProductPage');
const Stock = page(() => import('./Stock'), 'AdminStockPage');
const Orders = page(() => import('./Orders'), 'AdminOrdersPage');
const OrderDetail = page(() => import('./Orders'), 'AdminOrderPage');
const Operations = page(() => import('./Operations'), 'OperationsPage');
const Shards = page(() => import('./Shards'), 'ShardsPage');
const FlashSales = page(() => import('./FlashSales'), 'AdminFlashSalesPage');
const Overview = page(() => import('./Overview'), 'AdminOverviewPage');
const Customers = page(() => import('./Customers'), 'AdminCustomersPage');
const Customer = page(() => import('./Customer'), 'AdminCustomerPage');

const ROUTES: readonly { path: string; page: ComponentType<PageProps> }[] = [
  { path: '/admin/products', page: Products },
  { path: '/admin/products/new', page: ProductEdit },
  { path: '/admin/products/:id(uuid)', page: ProductEdit },
  { path: '/admin/stock', page: Stock },
  { path: '/admin/orders', page: Orders },
  { path: '/admin/orders/:id(uuid)', page: OrderDetail },
  { path: '/admin/customers', page: Customers },
  { path: '/admin/customers/:id(uuid)', page: Customer },
  { path: '/admin/operations', page: Operations },
  { path: '/admin/flash-sales', page: FlashSales },
  { path: '/admin/shards', page: Shards },
  { path: '/admin', page: Overview },
];

export function AdminApp() {
  const { pathname } = useLocation();
  let content: ReactNode = (
    <>
      <PageTitle title="Not found · Admin">Not found</PageTitle>
      <p>There is no admin page here.</p>
    </>
  );
  for (const route of ROUTES) {
    const params = matchPath(route.path, pathname);
    if (params) {
      const Page = route.page;
      content = <Page key={pathname} params={params} />;
      break;
    }
  }
  return (
    <div className="admin">
      <nav aria-label="Admin" className="admin-nav">
        <ul>
          <li>
            <NavLink to="/admin">Overview</NavLink>
          </li>
          <li>
            <NavLink to="/admin/products" matchPrefix>
              Products
            </NavLink>
          </li>
          <li>
            <NavLink to="/admin/stock">Stock</NavLink>
          </li>
          <li>
            <NavLink to="/admin/orders" matchPrefix>
              Orders
            </NavLink>
          </li>
          <li>
            <NavLink to="/admin/customers" matchPrefix>
              Customers
            </NavLink>
          </li>
          <li>
            <NavLink to="/admin/operations">Operations</NavLink>
          </li>
          <li>
            <NavLink to="/admin/flash-sales">Flash sales</NavLink>
          </li>
          <li>
            <NavLink to="/admin/shards">Shards</NavLink>
          </li>
        </ul>
      </nav>
      <div className="admin-content">
        <Suspense fallback={<Loading />}>{content}</Suspense>
      </div>
    </div>
  );
}
